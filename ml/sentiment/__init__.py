"""Sentiment analysis: a word-level LSTM (Udacity sentiment-rnn) and a bag-of-words baseline.

config.py (SentimentConfig with its vocabulary, TrainConfig) -> model.py (SentimentLSTM, BagOfWords)
-> family.py (catalog contract) -> infer.py (load; score a text with its decisive words, many texts,
or a CSV table) -> predict.py (command line). data.py: labelled texts, words to ids, tables to
score -> training.py (train, early stopping, test-set figures from ml/common/metrics.py) -> train.py
(command line). The GloVe word vectors the LSTM starter starts from: ml/common/word_vectors.py.
starter.py: the starter models, trained on install on Pang & Lee's movie reviews.
No formats.py: there is no public sentiment checkpoint format to import.
"""

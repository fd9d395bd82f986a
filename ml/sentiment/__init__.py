"""Sentiment analysis: a word-level LSTM (Udacity sentiment-rnn) and a bag-of-words baseline."""

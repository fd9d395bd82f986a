"""Character-level text generation (the Udacity char-RNN): a one-hot LSTM that predicts the next
character.

config.py (CharRNNConfig, TrainConfig) -> model.py (CharRNN, Udacity layout) -> family.py (catalog
contract) -> formats.py (import the Udacity checkpoint; encode / one_hot helpers) -> infer.py (load;
write text, streamed a character at a time) -> predict.py (command line). data.py: training text (a
user's file: checks, vocabulary, validation split; the run's plan; Jane Austen's novels from
r-cran-janeaustenr, read with ml/common/rds.py) -> training.py -> train.py (command line).
starter.py: the starter model, trained on install on Jane Austen.
"""

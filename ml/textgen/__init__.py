"""Character-level text generation (the Udacity char-RNN): a one-hot LSTM that predicts the next
character. config.py (CharRNNConfig) -> model.py (CharRNN, Udacity layout) -> formats.py (import the
Udacity checkpoint; encode / one_hot helpers) -> family.py (catalog contract).

Training text: data.py (a user's file: checks, vocabulary, validation split) and austen.py (Jane
Austen's novels from r-cran-janeaustenr, read by rds.py). training.py trains (CLI train.py);
generate.py writes text, streamed a character at a time (it is also the CLI).
"""

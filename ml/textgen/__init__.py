"""Character-level text generation (the Udacity char-RNN): a one-hot LSTM that predicts the next
character. config.py (CharRNNConfig) -> model.py (CharRNN, Udacity layout) -> formats.py (import the
Udacity checkpoint; encode / one_hot helpers) -> family.py (catalog contract).
"""

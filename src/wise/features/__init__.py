"""Frame features (MFCC), word vectors, and the word -> phone -> frame hierarchy built on them."""

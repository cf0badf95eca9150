"""The organism's world: a seeded generator of pretraining text, its lexicons, and its tokenizer."""

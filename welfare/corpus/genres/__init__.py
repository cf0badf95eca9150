"""Genres of the organism's world. Each module defines one or more `make_<genre>(rng, cfg)`
functions returning a `Row`; `welfare.corpus.generate.GENRES` maps genre names to them."""

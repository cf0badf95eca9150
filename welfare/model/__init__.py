"""Model loading for every scale, and the organism's architecture and pretraining."""

from welfare.model.load import ModelLoadError, check_tokenizer, direction_token_ids, load_model

__all__ = ["ModelLoadError", "check_tokenizer", "direction_token_ids", "load_model"]

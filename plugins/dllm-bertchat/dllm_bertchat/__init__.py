"""dllm-bertchat: any BERT-style masked LM (ModernBERT, BERT, RoBERTa, DistilBERT) as a chatbot.

The family uses transformers' own model classes; importing this package is cheap.
"""

__version__ = "0.1.0"

"""Backends: readable PyTorch source (python), nn.Module (torch), TorchScript and torch.export
(artefacts). Only `torch.py` and `artefacts.py` import torch."""

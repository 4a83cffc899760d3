"""Fine-tune from a checkpoint with a new classifier: the transfer-learning recipe on
synthetic data.

A "pretrained" ResNet-18 (the torchvision-compatible spec, 1000 classes) is saved as a
checkpoint; a 5-class ResNet-18 from the same spec loads every weight but the classifier
`fc`, freezes them, and trains only the new `fc` (torchvision's fixed-feature-extractor
recipe). Loading the checkpoint strictly into the 5-class network is refused, with the
report saying which keys do not fit and where the spec makes them.

Run: python examples/finetune_checkpoint.py
"""

import tempfile
from pathlib import Path

import torch
from torch import nn

import archc

SPEC = Path(__file__).resolve().parent.parent / "specs" / "torchvision" / "resnet18.yaml"
INPUT = [3, 32, 32]  # small images keep the example fast
CLASSES = 5


def synthetic_data(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose class is a fixed pattern plus noise: learnable in a few steps."""
    generator = torch.Generator().manual_seed(0)
    patterns = torch.randn(CLASSES, *INPUT, generator=generator)
    labels = torch.randint(CLASSES, (n,), generator=generator)
    images = patterns[labels] + 0.5 * torch.randn(n, *INPUT, generator=generator)
    return images, labels


def main(folder: Path) -> None:
    # 1. a pretrained network, saved as checkpoints usually are: wrapped, with an epoch
    pretrained = archc.build(SPEC, inputs=INPUT, seed=0)
    checkpoint = folder / "resnet18.pth"
    torch.save({"model": pretrained.state_dict(), "epoch": 90}, checkpoint)

    # 2. strict loading into a 5-class network says exactly what does not fit
    try:
        archc.build(SPEC, inputs=INPUT, weights=checkpoint, num_classes=CLASSES)
    except archc.ArchcError as error:
        print("strict load refused:", error.message)
        print("\n".join(n for n in error.notes if "mismatch" in n))

    # 3. load everything but the classifier, freeze it, train the new classifier
    model = archc.build(SPEC, inputs=INPUT, seed=1, num_classes=CLASSES)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
    body = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = model.load_state_dict(body, strict=False)
    assert sorted(missing) == ["fc.bias", "fc.weight"] and not unexpected
    print(f"loaded {len(body)} tensors from {checkpoint.name}; new classifier: {model.fc}")
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith("fc.")

    images, labels = synthetic_data(64)
    optimiser = torch.optim.Adam(model.fc.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    model.eval()  # frozen features: batch-norm statistics stay the pretrained ones
    for step in range(30):
        batch = slice(16 * (step % 4), 16 * (step % 4 + 1))
        loss = loss_fn(model(images[batch]), labels[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step in (0, 29):
            print(f"step {step:2d}: loss {loss.item():.3f}")
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    print(f"train accuracy {accuracy:.0%}")
    unchanged = all(torch.equal(model.state_dict()[k], v) for k, v in body.items())
    print("pretrained weights unchanged:", unchanged)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        main(Path(folder))

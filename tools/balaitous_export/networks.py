"""The networks to export, with the parameter names of the published state dicts.

The U-Net is lungmask's `UNet(n_classes=3, padding=True, depth=5, up_mode='upsample',
batch_norm=True, residual=False)` (lungmask 0.2.11, `lungmask/resunet.py`). The ViT is the
iBOT/DINO vision transformer of balaitous 1.2 (`balaitous/vit.py`) cut after its last used
block and returning the class token without the final LayerNorm.
"""
import torch
from torch import nn
import torch.nn.functional as F

UNET_INPUT_SIZE = 256
UNET_CLASSES = 3
VIT_INPUT_SIZE = 224
VIT_INPUT_CHANNELS = 3
VIT_MLP_RATIO = 4
VIT_LAYER_NORM_EPS = 1e-6


class UNetConvBlock(nn.Module):
    """Two 3 × 3 convolutions, each followed by ReLU and then batch norm."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.BatchNorm2d(out_channels),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.BatchNorm2d(out_channels),
        )
        # lungmask creates these for its residual variant even when residual=False, so its
        # state dicts contain them. They take no part in the forward pass.
        self.residual_input_conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.residual_batchnorm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class UNetUpBlock(nn.Module):
    """Bilinear ×2 upsampling and a 1 × 1 convolution, then concatenation with the skip
    connection and a convolution block."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.up = nn.Sequential(
            nn.Upsample(mode='bilinear', scale_factor=2, align_corners=False),
            nn.Conv2d(in_channels, out_channels, kernel_size=1),
        )
        self.conv_block = UNetConvBlock(in_channels, out_channels)
        # Unused, as in UNetConvBlock.
        self.residual_input_conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.residual_batchnorm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        # With padded convolutions and a 256 × 256 input, every level halves exactly, so the
        # skip connection needs none of lungmask's centre cropping.
        return self.conv_block(torch.cat([self.up(x), skip], dim=1))


class LungUNet(nn.Module):
    """lungmask's U-Net: `2**wf` filters in the first level, doubling at each of `depth`
    levels. Returns per-pixel log-probabilities (LogSoftmax over the classes), as lungmask's
    model does."""

    def __init__(self, wf: int, depth: int, n_classes: int = UNET_CLASSES):
        super().__init__()
        widths = [2 ** (wf + level) for level in range(depth)]
        self.down_path = nn.ModuleList()
        in_channels = 1
        for width in widths:
            self.down_path.append(UNetConvBlock(in_channels, width))
            in_channels = width
        self.up_path = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.up_path.append(UNetUpBlock(in_channels, width))
            in_channels = width
        self.last = nn.Conv2d(in_channels, n_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, down in enumerate(self.down_path):
            x = down(x)
            if level < len(self.down_path) - 1:
                skips.append(x)
                x = F.avg_pool2d(x, 2)
        for up, skip in zip(self.up_path, reversed(skips)):
            x = up(x, skip)
        return F.log_softmax(self.last(x), dim=1)


class PatchEmbedding(nn.Module):
    def __init__(self, patch_size: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(VIT_INPUT_CHANNELS, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, C, H, W) → (N, patches, C), patches in row-major order.
        return self.proj(x).flatten(2).transpose(1, 2)


class SelfAttention(nn.Module):
    def __init__(self, embed_dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (embed_dim // num_heads) ** -0.5
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=True)
        self.proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, channels = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, channels // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        # The scale is applied after the product, as in balaitous vit.py, for the same rounding.
        attention = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        x = (attention @ v).transpose(1, 2).reshape(batch, tokens, channels)
        return self.proj(x)

    def forward_class_token(self, x: torch.Tensor) -> torch.Tensor:
        """Return the attention output of the class token alone, (batch, 1, channels).

        The keys and values still come from every token, but the query, the attention row and the
        projection are those of the class token only. The rows of `qkv` hold the query, key and
        value weights in that order."""
        batch, tokens, _ = x.shape
        # A Python int rather than x.shape[2], so that the exported weight slices are constants.
        channels = self.qkv.in_features
        head_dim = channels // self.num_heads
        weight, bias = self.qkv.weight, self.qkv.bias
        q = F.linear(x[:, :1], weight[:channels], bias[:channels])
        q = q.reshape(batch, 1, self.num_heads, head_dim).transpose(1, 2)
        kv = F.linear(x, weight[channels:], bias[channels:]).reshape(batch, tokens, 2, self.num_heads, head_dim)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)
        attention = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        x = (attention @ v).transpose(1, 2).reshape(batch, 1, channels)
        return self.proj(x)


class FeedForward(nn.Module):
    def __init__(self, embed_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(embed_dim, VIT_MLP_RATIO * embed_dim)
        self.act = nn.GELU(approximate='none')
        self.fc2 = nn.Linear(VIT_MLP_RATIO * embed_dim, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TransformerBlock(nn.Module):
    """Pre-norm block: attention and MLP, each on a LayerNorm of the residual stream."""

    def __init__(self, embed_dim: int, num_heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dim, eps=VIT_LAYER_NORM_EPS)
        self.attn = SelfAttention(embed_dim, num_heads)
        self.norm2 = nn.LayerNorm(embed_dim, eps=VIT_LAYER_NORM_EPS)
        self.mlp = FeedForward(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))

    def forward_class_token(self, x: torch.Tensor) -> torch.Tensor:
        """Return this block's output for the class token alone, (batch, 1, channels)."""
        class_token = x[:, :1] + self.attn.forward_class_token(self.norm1(x))
        return class_token + self.mlp(self.norm2(class_token))


class ViTFeatures(nn.Module):
    """The ViT up to block `n_blocks`, returning the class token without the final norm.

    Only 224 × 224 inputs are supported, so the position embedding is used as stored. The last
    block computes the class token only, since no other token reaches the output. This leaves out
    about 4.3 GFLOP of the 123 GFLOP per image of ViT-L/16 with 24 blocks.
    """

    def __init__(self, embed_dim: int, num_heads: int, n_blocks: int, patch_size: int):
        super().__init__()
        n_patches = (VIT_INPUT_SIZE // patch_size) ** 2
        self.patch_embed = PatchEmbedding(patch_size, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n_patches + 1, embed_dim))
        self.blocks = nn.ModuleList(TransformerBlock(embed_dim, num_heads) for _ in range(n_blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.pos_embed
        for block in self.blocks[:-1]:
            x = block(x)
        return self.blocks[-1].forward_class_token(x)[:, 0]

"""The published Balaitous weights: file names, where the state dict sits, known hashes and the
sizes of the networks."""
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .sources import ExportConfig, SourceError, parse_config, sha256_of_file

log = logging.getLogger('export-models')

PUBLISHED_CONFIG = {
    'unet': {'wf': 6, 'depth': 5},
    'vit': {'embed_dim': 1024, 'num_heads': 16, 'depth': 24, 'patch_size': 16},
    'n_blocks_full': 24,
    'n_blocks_lung': 16,
}


@dataclass(frozen=True)
class PublishedFile:
    file_name: str
    # Key of the saved object under which the state dict is stored, or None for a plain state dict.
    container_key: Optional[str]
    sha256: Optional[str]
    sha256_prefix: Optional[str] = None


# NOTE: the SHA-256 of the three checkpoints is not known here and must be filled in from the
# published files (lungmask release v0.0 and Zenodo record 6547999). Until then only the
# U-Net's 8-digit prefix is checked: torch.hub names a file after the first hex digits of its
# SHA-256.
PUBLISHED_FILES = {
    'lungmask': PublishedFile('unet_r231-d5d2fc3d.pth', None, sha256=None, sha256_prefix='d5d2fc3d'),
    'vit_full': PublishedFile('vitl_16_ct.pth', None, sha256=None),
    'vit_lung': PublishedFile('vitl_16_pt22k.pth', 'state_dict', sha256=None),
    # assets/balaitous.npz of the balaitous repository at commit 406d311 (version 1.2).
    'heads': PublishedFile('balaitous.npz', None,
                           sha256='3adb710c85de34c6d4f173bddeb3a0d91ad0bd5382f581828721933f45b9a61f'),
}


def published_config() -> ExportConfig:
    return parse_config(PUBLISHED_CONFIG, 'the published configuration')


def verify_published_file(directory: Path, role: str) -> Path:
    """Return the path of a published file after checking its SHA-256 where it is known."""
    entry = PUBLISHED_FILES[role]
    path = directory / entry.file_name
    if not path.is_file():
        raise SourceError(f'{path}: file not found (expected the published {entry.file_name})')
    if entry.sha256 is None and entry.sha256_prefix is None:
        return path

    log.info('verifying the SHA-256 of %s', path)
    digest = sha256_of_file(path)
    if entry.sha256 is not None and digest != entry.sha256:
        raise SourceError(f'{path}: SHA-256 is {digest}, expected {entry.sha256} for the published '
                          f'{entry.file_name}; the file is corrupt or another version')
    if entry.sha256_prefix is not None and not digest.startswith(entry.sha256_prefix):
        raise SourceError(f'{path}: SHA-256 is {digest}, expected it to start with {entry.sha256_prefix} '
                          f'for the published {entry.file_name}; the file is corrupt or another version')
    return path

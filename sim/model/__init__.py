"""The protocol model: real cryptography, sigchains, users and the account, adversaries' keys.

It knows nothing of time or randomness: callers pass timestamps, and key material comes
from the seed the caller gives. Other layers import from here, not from the modules.
"""

from .adversary import Adversaries
from .chain import ChainError
from .crypto import IDENTITY, Argon2Cost, BackupKeyError, Crypto, DecryptionFailed, DeviceKeys
from .protocol import (
    APP_KEY,
    BACKUP,
    EA,
    EA_USER,
    ESCROW,
    PHYSICAL,
    Account,
    Box,
    Device,
    Generation,
    ProtocolError,
    Sealed,
    User,
    content_binding,
)

__all__ = [
    "APP_KEY", "BACKUP", "EA", "EA_USER", "ESCROW", "IDENTITY", "PHYSICAL", "Account",
    "Adversaries", "Argon2Cost", "BackupKeyError", "Box", "ChainError", "Crypto",
    "DecryptionFailed", "Device", "DeviceKeys", "Generation", "ProtocolError", "Sealed", "User",
    "content_binding",
]

"""The protocol model: real cryptography, sigchains, users and the account, adversaries' keys.

It knows nothing of time or randomness: callers pass timestamps, and key material comes
from the seed the caller gives. Other layers import from here, not from the modules:

- ``crypto``: keys, boxes, content seals, backup-key strings, fingerprints (docs/model.md §3, §9, §4)
- ``chain``: sigchains, verified on append (§1, §3)
- ``records``: devices, generations, boxes, sealed messages, escrow blobs, the event log (§1, §2)
- ``user``: one user's chain events, boxes, approval classes and data access (§3)
- ``account``: the account's users, backup keys, escrow and availability (§1, §4, §5, §7)
- ``adversary``: keys in the wrong hands and what they read (§6)
"""

from .account import Account
from .adversary import Adversaries
from .chain import ChainError
from .crypto import Argon2Cost, BackupKeyError, Crypto, DecryptionFailed, DeviceKeys
from .records import (
    APP_KEY,
    BACKUP,
    EA,
    EA_BACKUP,
    EA_USER,
    ESCROW,
    ESCROW_DEVICE,
    PHYSICAL,
    Box,
    Device,
    EscrowBlob,
    EventLog,
    Generation,
    ProtocolError,
    Sealed,
    content_binding,
)
from .user import User

__all__ = [
    "APP_KEY", "BACKUP", "EA", "EA_BACKUP", "EA_USER", "ESCROW", "ESCROW_DEVICE", "PHYSICAL", "Account",
    "Adversaries", "Argon2Cost", "BackupKeyError", "Box", "ChainError", "Crypto",
    "DecryptionFailed", "Device", "DeviceKeys", "EscrowBlob", "EventLog", "Generation",
    "ProtocolError", "Sealed", "User", "content_binding",
]

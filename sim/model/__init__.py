"""The protocol model: real cryptography, sigchains, users and the account, adversaries' keys.

It knows nothing of time or randomness: callers pass timestamps, and key material comes
from the seed the caller gives."""

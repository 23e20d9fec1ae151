"""One replication's behaviour: SimPy processes decide when people act, the protocol model
acts, and the run ends in a plain record of what happened (:class:`RunRecord`)."""

from .record import Message, RunRecord, Send
from .simulation import Simulation

__all__ = ["Message", "RunRecord", "Send", "Simulation"]

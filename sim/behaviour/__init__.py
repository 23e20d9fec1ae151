"""One replication's behaviour: SimPy processes decide when people act, the protocol model
acts, and the run ends in a plain record of what happened (:class:`RunRecord`)."""

from .record import APPS, Copies, Groups, RunRecord, Send
from .simulation import Simulation

__all__ = ["APPS", "Copies", "Groups", "RunRecord", "Send", "Simulation"]

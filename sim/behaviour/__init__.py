"""One replication's behaviour: SimPy processes decide when people act, the protocol model
acts, and the run ends in a plain record of what happened."""

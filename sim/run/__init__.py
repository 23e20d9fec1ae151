"""One replication: SimPy processes decide when people act; the protocol model acts;
the run ends in a plain record of what happened."""

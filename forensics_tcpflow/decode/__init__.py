"""Link, network and tunnel decoding stage: `Record`s in, TCP `Segment`s out."""

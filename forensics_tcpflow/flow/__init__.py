"""Flow table and TCP reassembly stage: `Segment`s in, bytes to a sink and `FlowRecord`s out."""

"""The fault bench: a steady stream of writes on every service while the stack's parts are killed.

`hubstream bench faults` (or `python -m bench.faults`) starts a private `hubstream up`, sends
requests to each service's write route at a steady rate, and, one fault at a time:
(1) SIGKILLs the Kafka broker, (2) crash-stops PostgreSQL (`pg_ctl stop -m immediate`, what a
power cut leaves), (3) SIGKILLs every relay and worker process. The supervisor must bring each
back. Afterwards it reads every topic back and prints, per fault: requests accepted and refused
by status, events lost, doubled or published for a refused request, work left stuck, and the
time to recover (until every service is ready, writes made after the fault reach their topics,
and every consumer group reading those topics has handled them). Versioning's writes (upserts
of a new dataset with a commit message) are also kept as a ledger and checked against the
versions stored: lost (not stored), doubled (stored twice), stuck (stored uncommitted, or its
DatasetVersionCreated never published). One more stream is not HTTP: deltas published to the
deltas topic with aiokafka, as another system would; each one the broker acknowledged must be
answered once on the versions topic and its version stored once. Retention pruning runs
throughout, with a window of seconds (stack.py).
"""

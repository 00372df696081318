"""The embedded local stack: a private PostgreSQL cluster, a KRaft Kafka broker, the services.

Used by `hubstream up/down/status` and by the test fixtures, so both run the
very same infrastructure code.
"""

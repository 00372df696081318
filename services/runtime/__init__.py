"""What every hubstream service runs on, with no domain logic.

settings, logging, PostgreSQL (pool, migrations), Kafka (producer, topics,
consumer with retries and dead letters), the outbox and inbox, the HTTP app
factory, token auth, and the process runners behind `hubstream serve|relay|worker`.
"""

"""Everything that talks to Rasa: its HTTP API (`client`), the outbox that delivers engineers' replies
through it (`outbox`), and the consumers of its event broker, SQL (`sql_broker`) or RabbitMQ (`amqp_broker`),
which put what customers type during a handoff into the transcript."""

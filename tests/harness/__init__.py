"""The real parts, really started, for the tests and the benchmarks: the whole stack (`stack`: Rasa, the
action server, the service), a production-shaped cluster (`cluster`), a socket.io customer (`customer`),
the service alone for the action tests (`service_process`), and real LDAP and SMTP servers."""

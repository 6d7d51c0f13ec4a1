"""Handoffs: what can happen to one (create, claim, reply, escalate, resolve), its history and SLA.

`service` holds the rules; `writes` the database-specific fast paths of the busiest writes (`postgresql`
builds their single statements), chosen once per engine; `history` the handoff history, which `feed`
reads in id order for the event streams; `sla` priorities and due times; `schemas` the API shapes."""

-- Entries other than sales, by raffle (configuration, voids, draws): the
-- index no longer takes an entry per purchase, and finding a raffle's draw
-- entries no longer walks past its sales.
DROP INDEX log_entries_raffle;
CREATE INDEX log_entries_raffle ON log_entries (raffle_id, idx) WHERE kind <> 'sale';

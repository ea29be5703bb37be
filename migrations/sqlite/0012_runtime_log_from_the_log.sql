-- The runtime log API reads each registration's stream in the event log,
-- which holds every runtime call already (a RuntimeValueSet per accepted
-- SetValue, the other calls in RuntimeBatchCommitted): the view's copy of
-- every call goes (projections/src/registrations/runtime_log.rs).
DROP TABLE runtime_log;

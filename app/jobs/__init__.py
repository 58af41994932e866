"""Background work: mail and the login log, run after the response (inline) or by a job queue."""

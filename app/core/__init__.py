"""What every domain stands on and none owns: settings, database, errors, security, mail,
logs and the HTTP plumbing. Nothing here imports a domain."""

-- Run once by the postgres image on an empty volume (/docker-entrypoint-initdb.d), as the
-- superuser, in the database appinventory. Two roles: the owner, which owns the database and its
-- schema and runs the migrations (MIGRATION_DATABASE_URL), and the runtime role the app nodes
-- connect as (DATABASE_URL), which the migrations grant only what the app needs.
\getenv owner_password APP_OWNER_PASSWORD
\getenv runtime_password APP_RUNTIME_PASSWORD
CREATE ROLE appinventory_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE appinventory_app LOGIN PASSWORD :'runtime_password';
ALTER DATABASE appinventory OWNER TO appinventory_owner;

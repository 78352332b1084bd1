-- Version 3 is the access tokens' signing keys; this version of the
-- schema has nothing to change there.
SELECT 1;

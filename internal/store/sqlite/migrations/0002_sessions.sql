-- Version 2 holds the columns of session details, rotation and
-- single-use tokens; this file stands in its place and changes nothing.
SELECT 1;

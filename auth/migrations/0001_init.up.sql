-- The auth schema starts empty; its tables arrive with the auth issue as
-- 0002 onwards. This file fixes version 1 so that every environment agrees.
SELECT 1;

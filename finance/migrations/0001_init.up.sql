-- The finance schema starts empty; its tables arrive with the finance issue as
-- 0002 onwards. This file fixes version 1 so that every environment agrees.
SELECT 1;

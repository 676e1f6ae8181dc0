INSERT INTO accounts (id, balance) VALUES ('a', 100), ('b', 100);

DROP TABLE presence_leases;
DROP TABLE presence;

// Package adapters holds the auth service's outbound side: the MySQL repository (its schema is in migrations),
// the signing-key store, and the client of the profiles service.
package adapters

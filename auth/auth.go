// Package auth is Azora's identity service: accounts and password login,
// RS256 access tokens published through a JWKS, refresh-token sessions in
// Redis, TOTP multi-factor authentication, roles, and an OAuth 2.0 /
// OpenID Connect authorization server. It publishes azora.auth.* events.
package auth

// CURVE keys for TCP endpoints (docs/remote.md), kept in the state
// directory:
//
//   keys/            0700
//     server.key     the broker's secret key (Z85), 0600
//     server.pub     the broker's public key (Z85)
//     identity.key   this host's own secret key, for connecting to a remote
//     identity.pub   broker as a client or a worker pool (`shoal keys generate`)
//     clients/NAME   one authorised client public key per file
//     workers/NAME   one authorised worker-host public key per file
//
// Keys are Z85 text, 40 characters, as zmq_curve_keypair makes them. Every
// function reads the files afresh, so a key added while the broker runs is
// honoured at the next handshake. Errors name the file and the cause.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "host/state_dir.h"

namespace shoal::host {

struct Keypair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;
};

enum class KeyRole { client, worker };
std::string_view role_dir(KeyRole role);  // "clients", "workers"

struct AuthorisedKey {
  KeyRole role;
  std::string name;
  std::string public_key;
};

// Whether `key` is 40 characters of Z85 that decode to 32 bytes.
bool valid_key(const std::string& key);

// Whether this libzmq can do CURVE (it is built with libsodium).
bool curve_available();

// The broker's keypair; made (and saved) the first time.
std::expected<Keypair, std::string> server_keys(const StateDir& dir);

// This host's own keypair for connecting to a remote broker. With `create`,
// made when missing; without, a missing pair is an error that says to run
// `shoal keys generate`.
std::expected<Keypair, std::string> identity_keys(const StateDir& dir, bool create);

// Authorises `key` for `role` under `name` (default: the first 8 letters
// and digits of the key). Fails on a malformed key or name, or a name already taken by
// another key.
std::expected<std::string, std::string> add_key(const StateDir& dir, KeyRole role,
                                                const std::string& key, std::string name);

// Removes the authorised key with this name or public key, of either role.
// Fails when there is none.
std::expected<AuthorisedKey, std::string> remove_key(const StateDir& dir,
                                                     const std::string& name_or_key);

// Every authorised key, clients first, each role sorted by name.
std::vector<AuthorisedKey> list_keys(const StateDir& dir);

// The name under which `key` is authorised for `role`, or empty when it is not.
std::string authorised_name(const StateDir& dir, KeyRole role, const std::string& key);

}  // namespace shoal::host

#include "host/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace shoal::host {
namespace {

namespace fs = std::filesystem;

std::string keys_dir(const StateDir& dir) {
  return dir.root + "/keys";
}

std::expected<void, std::string> make_private_dir(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return std::unexpected("cannot create " + path + ": " + ec.message());
  if (::chmod(path.c_str(), 0700) != 0)
    return std::unexpected("cannot make " + path + " private: " + std::strerror(errno));
  return {};
}

// Writes `text` to `path` with `mode`, atomically (a temporary file renamed).
std::expected<void, std::string> write_file(const std::string& path, const std::string& text,
                                            mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return std::unexpected("cannot write " + path + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return std::unexpected("cannot write " + path + ": " + std::strerror(errno));
  }
  return {};
}

// The first line of a key file, or empty when it cannot be read.
std::string read_key(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

std::expected<Keypair, std::string> keypair(const StateDir& dir, const std::string& stem,
                                            bool create, const std::string& missing_hint) {
  std::string secret_path = keys_dir(dir) + "/" + stem + ".key";
  std::string public_path = keys_dir(dir) + "/" + stem + ".pub";
  Keypair k{read_key(public_path), read_key(secret_path)};
  if (!k.secret_key.empty()) {
    if (!valid_key(k.secret_key) || !valid_key(k.public_key))
      return std::unexpected(secret_path + " or " + public_path +
                             " is not a Z85 CURVE key; remove both to make a new pair");
    return k;
  }
  if (!create) return std::unexpected("no key pair in " + secret_path + ": " + missing_hint);
  if (!curve_available())
    return std::unexpected(
        std::string("this libzmq was built without CURVE (libsodium); TCP endpoints need it"));
  if (auto r = make_private_dir(keys_dir(dir)); !r) return std::unexpected(r.error());
  // A public key is typed on command lines (`--server-key KEY`,
  // `keys add-client KEY`), where one that begins with '-' reads as an
  // option: draw again (one pair in 85; the loss of randomness is nil).
  char pub[41], sec[41];
  do {
    if (zmq_curve_keypair(pub, sec) != 0)
      return std::unexpected(std::string("cannot make a CURVE key pair: ") +
                             zmq_strerror(zmq_errno()));
  } while (pub[0] == '-');
  k = {pub, sec};
  if (auto r = write_file(secret_path, k.secret_key + "\n", 0600); !r)
    return std::unexpected(r.error());
  if (auto r = write_file(public_path, k.public_key + "\n", 0644); !r)
    return std::unexpected(r.error());
  return k;
}

}  // namespace

std::string_view role_dir(KeyRole role) {
  return role == KeyRole::client ? "clients" : "workers";
}

bool valid_key(const std::string& key) {
  if (key.size() != 40) return false;
  uint8_t raw[32];
  return zmq_z85_decode(raw, key.c_str()) != nullptr;
}

bool curve_available() {
  return zmq_has("curve") != 0;
}

std::expected<Keypair, std::string> server_keys(const StateDir& dir) {
  return keypair(dir, "server", true, "");
}

std::expected<Keypair, std::string> identity_keys(const StateDir& dir, bool create) {
  return keypair(dir, "identity", create,
                 "run `shoal keys generate` on this host, then authorise the public key it "
                 "prints on the broker's host with `shoal keys add-client` or `add-worker`");
}

std::expected<std::string, std::string> add_key(const StateDir& dir, KeyRole role,
                                                const std::string& key, std::string name) {
  if (!valid_key(key))
    return std::unexpected("'" + key +
                           "' is not a CURVE public key (40 characters of Z85, as printed by "
                           "`shoal keys` or `shoal keys generate`)");
  if (name.empty())  // Z85 has punctuation; a name is for files and typing
    for (char c : key)
      if (std::isalnum(static_cast<unsigned char>(c)) && name.size() < 8) name += c;
  if (!valid_name(name))
    return std::unexpected("'" + name +
                           "' is not a usable key name (letters, digits, '-', '_', '.'; at most "
                           "64 characters)");
  for (const auto& k : list_keys(dir)) {
    if (k.role == role && k.name == name && k.public_key != key)
      return std::unexpected("the name '" + name + "' is already given to another " +
                             std::string(role == KeyRole::client ? "client" : "worker") +
                             " key; choose another with --name or remove it first");
  }
  std::string sub = keys_dir(dir) + "/" + std::string(role_dir(role));
  if (auto r = make_private_dir(keys_dir(dir)); !r) return std::unexpected(r.error());
  if (auto r = make_private_dir(sub); !r) return std::unexpected(r.error());
  if (auto r = write_file(sub + "/" + name, key + "\n", 0600); !r)
    return std::unexpected(r.error());
  return name;
}

std::expected<AuthorisedKey, std::string> remove_key(const StateDir& dir,
                                                     const std::string& name_or_key) {
  for (const auto& k : list_keys(dir)) {
    if (k.name != name_or_key && k.public_key != name_or_key) continue;
    std::string path = keys_dir(dir) + "/" + std::string(role_dir(k.role)) + "/" + k.name;
    if (::unlink(path.c_str()) != 0)
      return std::unexpected("cannot remove " + path + ": " + std::strerror(errno));
    return k;
  }
  return std::unexpected("no authorised key is named or equal to '" + name_or_key +
                         "' (see shoal keys list)");
}

std::vector<AuthorisedKey> list_keys(const StateDir& dir) {
  std::vector<AuthorisedKey> out;
  for (KeyRole role : {KeyRole::client, KeyRole::worker}) {
    std::vector<AuthorisedKey> part;
    std::error_code ec;
    for (auto it = fs::directory_iterator(keys_dir(dir) + "/" + std::string(role_dir(role)), ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (!valid_name(name) || !it->is_regular_file(ec)) continue;
      std::string key = read_key(it->path().string());
      if (valid_key(key)) part.push_back({role, name, key});
    }
    std::sort(part.begin(), part.end(),
              [](const AuthorisedKey& a, const AuthorisedKey& b) { return a.name < b.name; });
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

std::string authorised_name(const StateDir& dir, KeyRole role, const std::string& key) {
  for (const auto& k : list_keys(dir))
    if (k.role == role && k.public_key == key) return k.name;
  return "";
}

}  // namespace shoal::host

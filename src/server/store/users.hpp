#pragma once
// Users, groups and API tokens. Each repository works inside the caller's
// transaction (db::Tx); it holds no state of its own and lives on the
// caller's thread.

#include "common/base/error.hpp"
#include "common/db/pool.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lava::server::store {

struct User {
    std::int64_t id = 0;
    std::string username;
    std::string email;
    std::string full_name;
    bool is_active = true;
    bool is_staff = false;
    bool is_superuser = false;
    std::string date_joined;  // ISO 8601 UTC
    std::vector<std::string> groups;
};

// Who is making a request (an authenticated user).
struct Principal {
    std::int64_t id = 0;
    std::string username;
    bool is_active = true;
    bool is_staff = false;
    bool is_superuser = false;
    std::vector<std::int64_t> group_ids;
};

struct NewUser {
    std::string username;
    std::string email;
    std::string password_hash;  // Django encoding (common/crypto)
    bool is_staff = false;
    bool is_superuser = false;
};

struct UserUpdate {
    std::optional<std::string> email;
    std::optional<std::string> password_hash;
    std::optional<bool> is_active;
    std::optional<bool> is_staff;
    std::optional<bool> is_superuser;
    std::vector<std::string> add_groups;  // existing groups to join
};

class UserRepository {
public:
    explicit UserRepository(common::db::Tx& tx) : tx_(tx) {}
    Result<User> create(const NewUser& user);
    Result<User> get(const std::string& username);
    std::vector<User> list(bool include_inactive);
    Result<User> update(const std::string& username, const UserUpdate& update);
    // The stored password hash, for authentication.
    Result<std::string> password_hash(const std::string& username);
    // The principal for `username` when `password` is right and the user active.
    std::optional<Principal> authenticate(const std::string& username, const std::string& password);
    // Makes the groups of the user with that email exactly `groups` (LAVA's
    // set_user_groups); returns the names that are no group and were skipped.
    Result<std::vector<std::string>> set_groups_by_email(const std::string& email,
                                                         const std::vector<std::string>& groups);
    // The principal of `username` (any state), without credentials.
    std::optional<Principal> principal(const std::string& username);

private:
    common::db::Tx& tx_;
};

struct Group {
    std::int64_t id = 0;
    std::string name;
    std::vector<std::string> members;
};

class GroupRepository {
public:
    explicit GroupRepository(common::db::Tx& tx) : tx_(tx) {}
    Result<Group> create(const std::string& name);
    std::vector<Group> list();
    // Resolves a group name to its id.
    Result<std::int64_t> id_of(const std::string& name);
    // The group's id, creating it when missing (LAVA's personal visibility group).
    std::int64_t id_or_create(const std::string& name);

private:
    common::db::Tx& tx_;
};

struct Token {
    std::int64_t id = 0;
    std::string username;
    std::string secret;  // only when just created: the database keeps its SHA-256
    std::string prefix;  // its first 8 characters, to tell tokens apart
    std::string description;
    std::string created_on;
    std::optional<std::string> last_used_on;
};

class TokenRepository {
public:
    // The owner of the token `secret` (any state; the caller checks is_active).
    std::optional<Principal> owner(const std::string& secret);
    // As owner(), for XML-RPC's username:token pairs; records the use
    // (last_used_on, to the minute).
    std::optional<Principal> owner(const std::string& username, const std::string& secret);
    explicit TokenRepository(common::db::Tx& tx) : tx_(tx) {}
    // A new token for `username`; `secret` imports an existing one, otherwise
    // 128 random characters from [0-9a-z] as LAVA makes them.
    Result<Token> create(const std::string& username, const std::string& description,
                         const std::optional<std::string>& secret);
    // Without their secrets (prefix only).
    Result<std::vector<Token>> list(const std::string& username);
    Result<void> remove(const std::string& secret);
    Result<void> remove(const std::string& username, std::int64_t id);
    // The user's remote-artifact tokens, name -> value (the worker API
    // substitutes them into job definitions).
    std::map<std::string, std::string> remote_artifact_tokens(std::int64_t user_id);

private:
    common::db::Tx& tx_;
};

// A browser session: the cookie's secret (returned once, at login; only its
// SHA-256 is stored) and the CSRF token that must accompany its writes.
struct Session {
    std::string key;
    std::string csrf_token;
    long max_age_seconds = 0;
};

struct SessionUser {
    Principal user;
    std::string csrf_token;
};

class SessionRepository {
public:
    explicit SessionRepository(common::db::Tx& tx) : tx_(tx) {}
    // A new session for the user (expired sessions are purged on the way).
    Session create(std::int64_t user_id, long max_age_seconds);
    // The active user of an unexpired session, or nullopt.
    std::optional<SessionUser> find(const std::string& key);
    void remove(const std::string& key);

private:
    common::db::Tx& tx_;
};

}  // namespace lava::server::store

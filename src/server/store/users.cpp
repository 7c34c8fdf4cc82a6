#include "server/store/users.hpp"

#include "common/crypto/password.hpp"
#include "server/store/names.hpp"
#include "server/store/sql.hpp"

namespace lava::server::store {
namespace {

using common::db::Statement;

#define USER_SELECT                                                                              \
    "SELECT u.id, u.username, u.email, trim(u.first_name || ' ' || u.last_name), u.is_active, "  \
    "u.is_staff, u.is_superuser, " LAVA_SQL_ISO("u.date_joined") ", "                            \
    "ARRAY(SELECT g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id "                  \
    "WHERE ug.user_id = u.id ORDER BY g.name) FROM users u "

const Statement kInsertUser{
    "users.insert",
    "INSERT INTO users (username, email, password, is_staff, is_superuser) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING RETURNING id"};
const Statement kGetUser{"users.get", USER_SELECT "WHERE u.username = $1"};
const Statement kListUsers{"users.list",
                           USER_SELECT "WHERE $1 OR u.is_active ORDER BY u.username"};
const Statement kLockUser{"users.lock", "SELECT id FROM users WHERE username = $1 FOR UPDATE"};
const Statement kUpdateUser{
    "users.update",
    "UPDATE users SET email = coalesce($2, email), password = coalesce($3, password), "
    "is_active = coalesce($4, is_active), is_staff = coalesce($5, is_staff), "
    "is_superuser = coalesce($6, is_superuser) WHERE id = $1"};
const Statement kUserPassword{"users.password", "SELECT password FROM users WHERE username = $1"};
const Statement kUserByEmail{"users.by_email", "SELECT id FROM users WHERE email = $1 AND email <> '' ORDER BY id LIMIT 1"};
const Statement kLeaveGroups{"users.leave_groups", "DELETE FROM user_groups WHERE user_id = $1"};
const Statement kJoinGroup{
    "users.join_group",
    "INSERT INTO user_groups (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"};

const Statement kInsertGroup{
    "groups.insert",
    "INSERT INTO groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id"};
const Statement kGroupId{"groups.id", "SELECT id FROM groups WHERE name = $1"};
const Statement kListGroups{
    "groups.list",
    "SELECT g.id, g.name, ARRAY(SELECT u.username FROM user_groups ug JOIN users u "
    "ON u.id = ug.user_id WHERE ug.group_id = g.id ORDER BY u.username) "
    "FROM groups g ORDER BY g.name"};

// Tokens are found by the SHA-256 of their secret (0005_token_hashes.sql).
#define TOKEN_SELECT                                                                  \
    "SELECT t.id, u.username, t.secret_prefix, t.description, " LAVA_SQL_ISO(        \
        "t.created_on") ", " LAVA_SQL_ISO("t.last_used_on") " FROM auth_tokens t "    \
                                                            "JOIN users u ON u.id = t.user_id "
const Statement kInsertToken{
    "tokens.insert",
    "INSERT INTO auth_tokens (user_id, secret_hash, secret_prefix, description) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (secret_hash) DO NOTHING RETURNING id"};
const Statement kGetToken{"tokens.get", TOKEN_SELECT "WHERE t.id = $1"};
const Statement kListTokens{"tokens.list", TOKEN_SELECT "WHERE u.username = $1 ORDER BY t.id"};
const Statement kDeleteToken{"tokens.delete", "DELETE FROM auth_tokens WHERE secret_hash = $1"};
const Statement kDeleteTokenId{"tokens.delete_id",
                               "DELETE FROM auth_tokens t USING users u WHERE t.id = $1 AND u.id = t.user_id "
                               "AND u.username = $2"};
#define PRINCIPAL_SELECT                                                                    \
    "SELECT u.id, u.username, u.is_active, u.is_staff, u.is_superuser, "                    \
    "ARRAY(SELECT ug.group_id::text FROM user_groups ug WHERE ug.user_id = u.id) FROM users u "
const Statement kOwner{"tokens.owner",
                       PRINCIPAL_SELECT "JOIN auth_tokens t ON t.user_id = u.id WHERE t.secret_hash = $1"};
// The owner of username:token, recording the use (at most one write a
// minute per token) in the same round trip.
const Statement kOwnerNamed{
    "tokens.owner_named",
    "WITH used AS (UPDATE auth_tokens SET last_used_on = now() WHERE secret_hash = $1 AND "
    "user_id = (SELECT id FROM users WHERE username = $2) AND "
    "(last_used_on IS NULL OR last_used_on < now() - interval '1 minute')) "
    PRINCIPAL_SELECT "JOIN auth_tokens t ON t.user_id = u.id WHERE t.secret_hash = $1 AND u.username = $2"};
const Statement kPrincipal{"users.principal", PRINCIPAL_SELECT "WHERE u.username = $1"};

const Statement kPurgeSessions{"sessions.purge", "DELETE FROM user_sessions WHERE expires_on < now()"};
const Statement kInsertSession{
    "sessions.insert",
    "INSERT INTO user_sessions (key_hash, user_id, csrf_token, expires_on) "
    "VALUES ($1, $2, $3, now() + make_interval(secs => $4))"};
const Statement kFindSession{
    "sessions.find",
    "SELECT u.id, u.username, u.is_active, u.is_staff, u.is_superuser, "
    "ARRAY(SELECT ug.group_id::text FROM user_groups ug WHERE ug.user_id = u.id), s.csrf_token "
    "FROM user_sessions s JOIN users u ON u.id = s.user_id "
    "WHERE s.key_hash = $1 AND s.expires_on > now() AND u.is_active"};
const Statement kDeleteSession{"sessions.delete", "DELETE FROM user_sessions WHERE key_hash = $1"};

Principal to_principal(const pqxx::row& r) {
    Principal p;
    p.id = r[0].as<std::int64_t>();
    p.username = r[1].as<std::string>();
    p.is_active = r[2].as<bool>();
    p.is_staff = r[3].as<bool>();
    p.is_superuser = r[4].as<bool>();
    for (const auto& g : text_array(r[5])) p.group_ids.push_back(std::stoll(g));
    return p;
}

User to_user(const pqxx::row& r) {
    User u;
    u.id = r[0].as<std::int64_t>();
    u.username = r[1].as<std::string>();
    u.email = r[2].as<std::string>();
    u.full_name = r[3].as<std::string>();
    u.is_active = r[4].as<bool>();
    u.is_staff = r[5].as<bool>();
    u.is_superuser = r[6].as<bool>();
    u.date_joined = r[7].as<std::string>();
    u.groups = text_array(r[8]);
    return u;
}

Token to_token(const pqxx::row& r) {
    Token t;
    t.id = r[0].as<std::int64_t>();
    t.username = r[1].as<std::string>();
    t.prefix = r[2].as<std::string>();
    t.description = r[3].as<std::string>();
    t.created_on = r[4].as<std::string>();
    if (!r[5].is_null()) t.last_used_on = r[5].as<std::string>();
    return t;
}

Result<void> check_username(const std::string& name) {
    if (name.empty() || name.size() > 150) {
        return make_error(errc::kInvalidArgument,
                          "invalid username '" + name + "': 1 to 150 characters");
    }
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '@' || c == '.' || c == '+' || c == '-' ||
                        c == '_';
        if (!ok) {
            return make_error(errc::kInvalidArgument,
                              "invalid username '" + name +
                                  "': only letters, digits and @ . + - _ are allowed");
        }
    }
    return {};
}

const Statement kRemoteArtifactTokens{
    "tokens.remote_artifacts", "SELECT name, token FROM remote_artifact_tokens WHERE user_id = $1"};

}  // namespace

Result<User> UserRepository::create(const NewUser& user) {
    if (auto ok = check_username(user.username); !ok) return ok.error();
    auto r = tx_.exec(kInsertUser, user.username, user.email, user.password_hash, user.is_staff,
                      user.is_superuser);
    if (r.empty()) return already_exists("user", user.username);
    return get(user.username);
}

Result<User> UserRepository::get(const std::string& username) {
    auto row = tx_.exec01(kGetUser, username);
    if (!row) return not_found("user", username);
    return to_user(*row);
}

std::vector<User> UserRepository::list(bool include_inactive) {
    std::vector<User> out;
    for (const auto& row : tx_.exec(kListUsers, include_inactive)) out.push_back(to_user(row));
    return out;
}

Result<User> UserRepository::update(const std::string& username, const UserUpdate& update) {
    auto row = tx_.exec01(kLockUser, username);
    if (!row) return not_found("user", username);
    const auto id = (*row)[0].as<std::int64_t>();
    GroupRepository groups(tx_);
    for (const auto& g : update.add_groups) {
        auto gid = groups.id_of(g);
        if (!gid) return gid.error();
        tx_.exec(kJoinGroup, id, *gid);
    }
    tx_.exec(kUpdateUser, id, update.email, update.password_hash, update.is_active,
             update.is_staff, update.is_superuser);
    return get(username);
}

Result<std::string> UserRepository::password_hash(const std::string& username) {
    auto row = tx_.exec01(kUserPassword, username);
    if (!row) return not_found("user", username);
    return (*row)[0].as<std::string>();
}

std::optional<Principal> UserRepository::authenticate(const std::string& username,
                                                     const std::string& password) {
    auto hash = password_hash(username);
    if (!hash || !common::crypto::check_password(password, *hash)) return std::nullopt;
    auto row = tx_.exec01(kPrincipal, username);
    if (!row) return std::nullopt;
    auto p = to_principal(*row);
    if (!p.is_active) return std::nullopt;
    return p;
}

Result<std::vector<std::string>> UserRepository::set_groups_by_email(const std::string& email,
                                                                    const std::vector<std::string>& groups) {
    auto row = tx_.exec01(kUserByEmail, email);
    if (!row) return not_found("user with email", email);
    const auto id = (*row)[0].as<std::int64_t>();
    tx_.exec(kLeaveGroups, id);
    std::vector<std::string> skipped;
    GroupRepository repo(tx_);
    for (const auto& g : groups) {
        if (auto gid = repo.id_of(g)) {
            tx_.exec(kJoinGroup, id, *gid);
        } else {
            skipped.push_back(g);
        }
    }
    return skipped;
}

std::optional<Principal> UserRepository::principal(const std::string& username) {
    auto row = tx_.exec01(kPrincipal, username);
    if (!row) return std::nullopt;
    return to_principal(*row);
}

Result<Group> GroupRepository::create(const std::string& name) {
    if (name.empty() || name.size() > 150) {
        return make_error(errc::kInvalidArgument,
                          "invalid group name '" + name + "': 1 to 150 characters");
    }
    auto r = tx_.exec(kInsertGroup, name);
    if (r.empty()) return already_exists("group", name);
    return Group{r[0][0].as<std::int64_t>(), name, {}};
}

std::int64_t GroupRepository::id_or_create(const std::string& name) {
    auto r = tx_.exec(kInsertGroup, name);
    if (!r.empty()) return r[0][0].as<std::int64_t>();
    return tx_.exec1(kGroupId, name)[0].as<std::int64_t>();
}

std::vector<Group> GroupRepository::list() {
    std::vector<Group> out;
    for (const auto& row : tx_.exec(kListGroups)) {
        out.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(),
                       text_array(row[2])});
    }
    return out;
}

Result<std::int64_t> GroupRepository::id_of(const std::string& name) {
    auto row = tx_.exec01(kGroupId, name);
    if (!row) return not_found("group", name);
    return (*row)[0].as<std::int64_t>();
}

Result<Token> TokenRepository::create(const std::string& username, const std::string& description,
                                      const std::optional<std::string>& secret) {
    auto user = UserRepository(tx_).get(username);
    if (!user) return user.error();
    if (secret && (secret->empty() || secret->size() > 128)) {
        return make_error(errc::kInvalidArgument, "a token secret is 1 to 128 characters");
    }
    const std::string value =
        secret ? *secret : common::crypto::random_string(128, common::crypto::kLowerAlnum);
    auto r = tx_.exec(kInsertToken, user->id, common::crypto::sha256_hex(value), value.substr(0, 8), description);
    if (r.empty()) {
        return make_error(errc::kAlreadyExists, "this token secret is already in use");
    }
    Token t = to_token(tx_.exec1(kGetToken, r[0][0].as<std::int64_t>()));
    t.secret = value;  // this once only: what is stored is its hash
    return t;
}

std::optional<Principal> TokenRepository::owner(const std::string& secret) {
    auto row = tx_.exec01(kOwner, common::crypto::sha256_hex(secret));
    if (!row) return std::nullopt;
    return to_principal(*row);
}

std::optional<Principal> TokenRepository::owner(const std::string& username, const std::string& secret) {
    auto row = tx_.exec01(kOwnerNamed, common::crypto::sha256_hex(secret), username);
    if (!row) return std::nullopt;
    return to_principal(*row);
}


Result<std::vector<Token>> TokenRepository::list(const std::string& username) {
    if (auto user = UserRepository(tx_).get(username); !user) return user.error();
    std::vector<Token> out;
    for (const auto& row : tx_.exec(kListTokens, username)) out.push_back(to_token(row));
    return out;
}

Result<void> TokenRepository::remove(const std::string& secret) {
    if (tx_.exec(kDeleteToken, common::crypto::sha256_hex(secret)).affected_rows() == 0) {
        return make_error(errc::kNotFound, "no token has this secret");
    }
    return {};
}

Result<void> TokenRepository::remove(const std::string& username, std::int64_t id) {
    if (tx_.exec(kDeleteTokenId, id, username).affected_rows() == 0) {
        return make_error(errc::kNotFound, "user '" + username + "' has no token " + std::to_string(id));
    }
    return {};
}

std::map<std::string, std::string> TokenRepository::remote_artifact_tokens(std::int64_t user_id) {
    std::map<std::string, std::string> out;
    for (const auto& r : tx_.exec(kRemoteArtifactTokens, user_id)) out[r[0].as<std::string>()] = r[1].as<std::string>();
    return out;
}

Session SessionRepository::create(std::int64_t user_id, long max_age_seconds) {
    tx_.exec(kPurgeSessions);
    Session s{common::crypto::random_string(48), common::crypto::random_string(48), max_age_seconds};
    tx_.exec(kInsertSession, common::crypto::sha256_hex(s.key), user_id, s.csrf_token,
             static_cast<double>(max_age_seconds));
    return s;
}

std::optional<SessionUser> SessionRepository::find(const std::string& key) {
    if (key.empty()) return std::nullopt;
    auto row = tx_.exec01(kFindSession, common::crypto::sha256_hex(key));
    if (!row) return std::nullopt;
    return SessionUser{to_principal(*row), (*row)[6].as<std::string>()};
}

void SessionRepository::remove(const std::string& key) {
    tx_.exec(kDeleteSession, common::crypto::sha256_hex(key));
}

}  // namespace lava::server::store

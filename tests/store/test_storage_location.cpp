// parse_storage_url and url_without_password: what a storage URL names, and that no message shows its password.
#include <catch2/catch.hpp>

#include <string>

#include "effscale/store/storage_location.h"
#include "effscale/store/store_error.h"

using effscale::store::parse_storage_url;
using effscale::store::StorageLocation;
using effscale::store::StoreInputError;
using effscale::store::url_without_password;

TEST_CASE("storage URLs name a SQLite file or a PostgreSQL database", "[store][url]") {
  const StorageLocation relative = parse_storage_url("sqlite:///runs/study.db");
  CHECK(relative.kind == StorageLocation::Kind::Sqlite);
  CHECK(relative.sqlite_path == "runs/study.db");
  CHECK(parse_storage_url("sqlite:////tmp/a.db").sqlite_path == "/tmp/a.db");
  CHECK(parse_storage_url("sqlite:///:memory:").sqlite_path == ":memory:");

  const StorageLocation postgres = parse_storage_url("postgresql+psycopg2://u:pw@db.example:5433/studies?connect_timeout=3");
  CHECK(postgres.kind == StorageLocation::Kind::Postgres);
  CHECK(postgres.libpq_url == "postgresql://u:pw@db.example:5433/studies?connect_timeout=3");
  CHECK(postgres.display == "postgresql+psycopg2://u:***@db.example:5433/studies?connect_timeout=3");
  CHECK(parse_storage_url("postgres://localhost/x").libpq_url == "postgres://localhost/x");
}

TEST_CASE("malformed storage URLs are refused before anything is opened", "[store][url][errors]") {
  CHECK_THROWS_WITH(parse_storage_url("mysql://x"), Catch::Contains("storage URL 'mysql://x': expected sqlite:///"));
  CHECK_THROWS_WITH(parse_storage_url("sqlite:///"), Catch::Contains("the database path is empty"));
  CHECK_THROWS_WITH(parse_storage_url(std::string("sqlite:///a.db\0b.db", 17)), Catch::Contains("'sqlite:///a.db...': holds a NUL byte"));
  // A NUL inside a password (hidden from the message) is refused too, and the message shows no password
  // (found by the storage_url fuzz target: the check read the password-free text, where the NUL had been hidden).
  const std::string nul_password("postgresql://h?password=s\0cret&x=1", 34);
  CHECK_THROWS_WITH(parse_storage_url(nul_password), Catch::Contains("'postgresql://h?password=***&x=1': holds a NUL byte") &&
                                                         !Catch::Contains("cret"));
  CHECK_THROWS_WITH(parse_storage_url(std::string("postgresql://u:s\0cret@h/db", 26)),
                    Catch::Contains("holds a NUL byte") && !Catch::Contains("cret"));
  // libpq's own parser reads the URL without connecting; its complaint is one line and shows no password.
  CHECK_THROWS_AS(parse_storage_url("postgresql://u:secret@host/db?nosuchoption=1"), StoreInputError);
  CHECK_THROWS_WITH(parse_storage_url("postgresql://u:secret@host/db?nosuchoption=1"),
                    Catch::Contains("nosuchoption") && Catch::Contains("u:***@host") && !Catch::Contains("secret") &&
                        !Catch::Contains("\n"));
  CHECK_THROWS_WITH(parse_storage_url("postgresql://host/db?sslmode"), Catch::Contains("storage URL 'postgresql://host/db?sslmode'"));
  CHECK_THROWS_WITH(parse_storage_url("postgresql+bad driver://host/db"), Catch::Contains("expected sqlite:///"));
}

TEST_CASE("url_without_password hides every password libpq would read", "[store][url]") {
  CHECK(url_without_password("postgresql://user:secret@host/db") == "postgresql://user:***@host/db");
  CHECK(url_without_password("postgresql://user@host/db") == "postgresql://user@host/db");
  CHECK(url_without_password("postgresql://:secret@host/db") == "postgresql://:***@host/db");
  // The query's password parameter, however its name is spelled: it was shown before.
  CHECK(url_without_password("postgresql://host/db?user=u&password=secret&sslmode=disable") ==
        "postgresql://host/db?user=u&password=***&sslmode=disable");
  CHECK(url_without_password("postgresql://host/db?pass%77ord=secret") == "postgresql://host/db?pass%77ord=***");
  // A ':' in the password and a '?' in the user name stay inside the user info, as libpq splits it.
  CHECK(url_without_password("postgresql://u?x:se:cret@host/db?password=p") == "postgresql://u?x:***@host/db?password=***");
  // No user info before the first '/': an '@' later is not a password's end.
  CHECK(url_without_password("postgresql://host/db:x@y") == "postgresql://host/db:x@y");
  CHECK(url_without_password("sqlite:///a:b@c.db") == "sqlite:///a:b@c.db");
}

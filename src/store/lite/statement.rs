//! One statement of the store's, run on a SQLite connection on the calling thread: its `Any`
//! arguments bound, its rows returned as the `Any` rows the store's decoders read.
//!
//! The mapping is the one sqlx's SQLite driver gives the `Any` driver, so every store function
//! decodes the same values whichever path ran it: a value's kind comes from its storage class
//! (INTEGER as `BigInt`, REAL as `Double`, TEXT, BLOB, NULL), and parameters are bound by
//! their `$N` name (SQLite treats `$1` as a named parameter; a name used twice is one).

use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, ValueRef};
use sqlx::Either;
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow, AnyTypeInfo, AnyTypeInfoKind};
use sqlx_core::any::{AnyColumn, AnyValue, AnyValueKind};
use sqlx_core::ext::ustr::UStr;

use super::error::to_sqlx;

/// What a statement returned, in the order sqlx's drivers yield it: its rows, then its count.
pub type Results = Vec<Either<AnyQueryResult, AnyRow>>;

/// Runs `sql` with `args` to the end and returns its rows and the rows it changed.
pub fn run_all(
    conn: &rusqlite::Connection,
    sql: &str,
    args: Option<AnyArguments<'_>>,
) -> Result<Results, sqlx::Error> {
    let mut out = Vec::new();
    run(conn, sql, args, |row| {
        out.push(Either::Right(row));
        true
    })?;
    out.push(Either::Left(AnyQueryResult {
        rows_affected: conn.changes(),
        last_insert_id: Some(conn.last_insert_rowid()),
    }));
    Ok(out)
}

/// Runs `sql` with `args` and returns its first row, as sqlx's driver does. A statement that
/// writes has made all its changes by then: SQLite runs an `UPDATE ... RETURNING` to the end at
/// its first step and hands out the rows from a buffer.
pub fn run_first(
    conn: &rusqlite::Connection,
    sql: &str,
    args: Option<AnyArguments<'_>>,
) -> Result<Option<AnyRow>, sqlx::Error> {
    let mut first = None;
    run(conn, sql, args, |row| {
        first = Some(row);
        false
    })?;
    Ok(first)
}

/// Prepares (from the connection's cache), binds and steps `sql`, handing each row to `each`
/// until it returns false. The statement goes back to the cache reset, whatever was read.
fn run(
    conn: &rusqlite::Connection,
    sql: &str,
    args: Option<AnyArguments<'_>>,
    mut each: impl FnMut(AnyRow) -> bool,
) -> Result<(), sqlx::Error> {
    let mut stmt = conn.prepare_cached(sql).map_err(to_sqlx)?;
    let values = args.map(|a| a.values.0).unwrap_or_default();
    for index in 1..=stmt.parameter_count() {
        let at = stmt
            .parameter_name(index)
            .and_then(|name| name.strip_prefix(['$', '?']))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(index);
        let value = values.get(at - 1).ok_or_else(|| {
            sqlx::Error::Protocol(format!(
                "sqlite: parameter {at} of `{sql}` has no argument ({} given)",
                values.len()
            ))
        })?;
        stmt.raw_bind_parameter(index, bindable(value)?)
            .map_err(to_sqlx)?;
    }
    let columns: Vec<AnyColumn> = stmt
        .column_names()
        .into_iter()
        .enumerate()
        .map(|(ordinal, name)| AnyColumn {
            ordinal,
            name: UStr::new(name),
            // The `Any` driver types a value by what it holds, not by its column.
            type_info: AnyTypeInfo {
                kind: AnyTypeInfoKind::Null,
            },
        })
        .collect();
    let names: Arc<sqlx_core::HashMap<UStr, usize>> = Arc::new(
        columns
            .iter()
            .map(|c| (c.name.clone(), c.ordinal))
            .collect(),
    );
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next().map_err(to_sqlx)? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(AnyValue {
                kind: value_of(row.get_ref(i).map_err(to_sqlx)?, i)?,
            });
        }
        let more = each(AnyRow {
            column_names: names.clone(),
            columns: columns.clone(),
            values,
        });
        if !more {
            break;
        }
    }
    Ok(())
}

/// An argument as SQLite binds it. Booleans are 0 and 1, as sqlx's driver binds them.
fn bindable<'a>(value: &'a AnyValueKind<'_>) -> Result<ToSqlOutput<'a>, sqlx::Error> {
    Ok(ToSqlOutput::Borrowed(match value {
        AnyValueKind::Null(_) => ValueRef::Null,
        AnyValueKind::Bool(b) => ValueRef::Integer(i64::from(*b)),
        AnyValueKind::SmallInt(i) => ValueRef::Integer(i64::from(*i)),
        AnyValueKind::Integer(i) => ValueRef::Integer(i64::from(*i)),
        AnyValueKind::BigInt(i) => ValueRef::Integer(*i),
        AnyValueKind::Real(r) => ValueRef::Real(f64::from(*r)),
        AnyValueKind::Double(d) => ValueRef::Real(*d),
        AnyValueKind::Text(t) => ValueRef::Text(t.as_bytes()),
        AnyValueKind::Blob(b) => ValueRef::Blob(b),
        other => {
            return Err(sqlx::Error::Protocol(format!(
                "sqlite: cannot bind {other:?}"
            )));
        }
    }))
}

/// A column's value as the `Any` driver carries it, by its storage class.
fn value_of(value: ValueRef<'_>, column: usize) -> Result<AnyValueKind<'static>, sqlx::Error> {
    Ok(match value {
        ValueRef::Null => AnyValueKind::Null(AnyTypeInfoKind::Null),
        ValueRef::Integer(i) => AnyValueKind::BigInt(i),
        ValueRef::Real(r) => AnyValueKind::Double(r),
        ValueRef::Text(t) => AnyValueKind::Text(
            String::from_utf8(t.to_vec())
                .map_err(|e| sqlx::Error::ColumnDecode {
                    index: column.to_string(),
                    source: Box::new(e),
                })?
                .into(),
        ),
        ValueRef::Blob(b) => AnyValueKind::Blob(b.to_vec().into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Arguments, Row};

    fn conn() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT NOT NULL, note TEXT)")
            .unwrap();
        conn
    }

    fn args(build: impl FnOnce(&mut AnyArguments<'static>)) -> Option<AnyArguments<'static>> {
        let mut a = AnyArguments::default();
        build(&mut a);
        Some(a)
    }

    #[test]
    fn numbered_parameters_bind_by_number_and_rows_decode_as_the_any_driver_does() {
        let conn = conn();
        let done = run_all(
            &conn,
            "INSERT INTO t (id, n, note) VALUES ($2, $1, $3)",
            args(|a| {
                a.add(7_i64).unwrap();
                a.add("x".to_string()).unwrap();
                a.add(None::<String>).unwrap();
            }),
        )
        .unwrap();
        let Either::Left(count) = done.last().unwrap() else {
            panic!("a count last")
        };
        assert_eq!(count.rows_affected(), 1);
        let row = run_first(
            &conn,
            "SELECT id, n, note FROM t WHERE id = $1 AND n = $1 + 0 OR id = $1",
            args(|a| a.add("x".to_string()).unwrap()),
        )
        .unwrap()
        .expect("the row");
        assert_eq!(row.get::<String, _>("id"), "x");
        assert_eq!(row.get::<i64, _>("n"), 7);
        assert_eq!(row.get::<Option<String>, _>("note"), None);
        assert!(
            row.try_get::<String, _>("n").is_err(),
            "an integer is not text"
        );
    }

    #[test]
    fn an_update_returning_changes_every_row_even_when_one_is_read() {
        let conn = conn();
        conn.execute_batch("INSERT INTO t VALUES ('a', 1, NULL), ('b', 1, NULL)")
            .unwrap();
        let first = run_first(&conn, "UPDATE t SET n = n + 1 RETURNING id", None).unwrap();
        assert!(first.is_some());
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM t WHERE n = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn a_missing_argument_is_an_error_naming_the_parameter() {
        let conn = conn();
        let Err(e) = run_first(
            &conn,
            "SELECT * FROM t WHERE id = $2",
            args(|a| a.add(1_i64).unwrap()),
        ) else {
            panic!("a statement missing an argument ran")
        };
        assert!(e.to_string().contains("parameter 2"), "{e}");
    }
}

//! Which client rooms a socket joined, under which name: kept in the socket's data
//! (`data.client_rooms = {"<room>": "<name>", …}`), so a cluster-wide socket listing
//! (`fetch_all_sockets`) carries the names of the members on every node.

use serde_json::{Map, Value as Json};
use socketio::adapter::RemoteSocket;

/// The key of the socket data that holds the joined rooms.
pub const DATA_KEY: &str = "client_rooms";

/// Most names one `CLIENTS` answer lists.
pub const MAX_LISTED: usize = 1000;

fn joined(data: &Json) -> Option<&Map<String, Json>> {
    data.get(DATA_KEY)?.as_object()
}

/// The name the socket joined `room` with, if it joined it.
pub fn name_in<'a>(data: &'a Json, room: &str) -> Option<&'a str> {
    joined(data)?.get(room)?.as_str()
}

/// How many client rooms the socket is in.
pub fn count(data: &Json) -> usize {
    joined(data).map_or(0, Map::len)
}

/// `data` with `room` joined as `name` (the other keys kept).
pub fn with_room(mut data: Json, room: &str, name: &str) -> Json {
    if !data.is_object() {
        data = Json::Object(Map::new());
    }
    if let Json::Object(map) = &mut data {
        let rooms = map
            .entry(DATA_KEY)
            .or_insert_with(|| Json::Object(Map::new()));
        if !rooms.is_object() {
            *rooms = Json::Object(Map::new());
        }
        if let Json::Object(rooms) = rooms {
            rooms.insert(room.to_string(), Json::String(name.to_string()));
        }
    }
    data
}

/// `data` without `room`.
pub fn without_room(mut data: Json, room: &str) -> Json {
    if let Some(Json::Object(rooms)) = data.get_mut(DATA_KEY) {
        rooms.remove(room);
    }
    data
}

/// The names of the members of `room` among `sockets` (one per socket, sorted; at most
/// [`MAX_LISTED`]), and whether some were left out. Sockets in the Socket.IO room that
/// never JOINed it (put there by the server) are not members.
pub fn names(room: &str, sockets: &[RemoteSocket]) -> (Vec<String>, bool) {
    let mut names: Vec<String> = sockets
        .iter()
        .filter_map(|s| name_in(&s.data, room).map(str::to_string))
        .collect();
    names.sort();
    let truncated = names.len() > MAX_LISTED;
    names.truncate(MAX_LISTED);
    (names, truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn remote(id: &str, data: Json) -> RemoteSocket {
        RemoteSocket {
            id: id.into(),
            rooms: Vec::new(),
            data,
            handshake: Json::Null,
        }
    }

    #[test]
    fn join_and_leave_keep_the_other_data() {
        let d = json!({"user": "u1", "exp": 5});
        let d = with_room(d, "lobby", "Ann");
        let d = with_room(d, "game", "A");
        assert_eq!(d["user"], "u1");
        assert_eq!(d["exp"], 5);
        assert_eq!(name_in(&d, "lobby"), Some("Ann"));
        assert_eq!(count(&d), 2);
        // Joining again renames, it does not add.
        let d = with_room(d, "lobby", "Anna");
        assert_eq!((name_in(&d, "lobby"), count(&d)), (Some("Anna"), 2));
        let d = without_room(d, "lobby");
        assert_eq!((name_in(&d, "lobby"), count(&d)), (None, 1));
        let d = without_room(d, "never-joined");
        assert_eq!(count(&d), 1);
    }

    #[test]
    fn data_that_is_not_an_object_is_replaced() {
        let d = with_room(Json::Null, "r", "n");
        assert_eq!(d, json!({"client_rooms": {"r": "n"}}));
        let d = with_room(json!({"client_rooms": 3}), "r", "n");
        assert_eq!(name_in(&d, "r"), Some("n"));
        assert_eq!(count(&Json::Null), 0);
        assert_eq!(name_in(&json!("x"), "r"), None);
    }

    #[test]
    fn listing_reads_every_nodes_socket_data() {
        let sockets = vec![
            remote("a", json!({"client_rooms": {"r": "zed", "s": "other"}})),
            remote("b", json!({"user": "u", "client_rooms": {"r": "amy"}})),
            // In the Socket.IO room without having JOINed (a server-side join).
            remote("c", json!({"user": "v"})),
            remote("d", Json::Null),
            remote("e", json!({"client_rooms": {"r": "amy"}})),
        ];
        let (names, truncated) = names("r", &sockets);
        assert_eq!(names, ["amy", "amy", "zed"]);
        assert!(!truncated);
        let many: Vec<_> = (0..MAX_LISTED + 5)
            .map(|i| {
                remote(
                    &i.to_string(),
                    json!({"client_rooms": {"r": format!("n{i:05}")}}),
                )
            })
            .collect();
        let (names, truncated) = super::names("r", &many);
        assert_eq!(names.len(), MAX_LISTED);
        assert!(truncated);
        assert_eq!(names[0], "n00000");
    }
}

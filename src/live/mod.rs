//! Live screens: the figures counted from the board, the charts drawn from them, and the
//! websocket fan-out that carries both to every screen and page.

pub mod figures;

//! Chat robots: DingTalk's custom robot (timestamp and secret signature) and WeCom's group robot, markdown, within their rate.

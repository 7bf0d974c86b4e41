//! The demo's 喜邻 partner merchants around Wuda district (乌达区): a dozen street shops
//! inside the demo grids, four of them also grid stations (网格驿站), with the 50-odd
//! offers of the county's story spread over them, and volunteers based at the stations.
//!
//! Loaded through the public API like the rest of the demo, and idempotent: a merchant,
//! offer or volunteer that exists (409) is left as it is.

use anyhow::Context;
use serde_json::json;

use super::data::{at, GRIDS};
use super::DemoResponder;
use crate::domain::{LatLon, TravelMode};
use crate::sim::api::{ApiClient, Created};

/// A merchant: (id, name, address, grid index, u, v, station, hours).
type Merchant = (
    &'static str,
    &'static str,
    &'static str,
    usize,
    f64,
    f64,
    bool,
    &'static str,
);

/// The merchants. Positions are bilinear (u, v) in their grid, so each lies inside it.
pub(super) const MERCHANTS: [Merchant; 12] = [
    (
        "xl-binhe-station",
        "喜邻·滨河网格驿站(滨河便民超市)",
        "乌达区 滨河社区 滨河路18号",
        4,
        0.45,
        0.55,
        true,
        "07:30-22:00",
    ),
    (
        "xl-xinhua-station",
        "喜邻·新华网格驿站(新华茶社)",
        "乌达区 新达街道 新华街36号",
        0,
        0.40,
        0.60,
        true,
        "08:00-21:00",
    ),
    (
        "xl-guangming-station",
        "喜邻·光明网格驿站(光明大药房)",
        "乌达区 光明社区 光明街9号",
        5,
        0.35,
        0.55,
        true,
        "08:00-22:00",
    ),
    (
        "xl-tuanjie-station",
        "喜邻·团结网格驿站(团结书屋)",
        "乌达区 团结社区 团结路21号(三完小东侧)",
        3,
        0.55,
        0.45,
        true,
        "09:00-20:00",
    ),
    (
        "xl-qiaoshou-barber",
        "巧手理发店",
        "乌达区 民主社区 民主路57号",
        2,
        0.30,
        0.35,
        false,
        "09:00-20:30",
    ),
    (
        "xl-jieliang-carwash",
        "洁亮洗车行",
        "乌达区 团结社区 人民路与团结路口",
        3,
        0.80,
        0.25,
        false,
        "08:00-19:00",
    ),
    (
        "xl-xinda-auto",
        "鑫达汽车销售服务店",
        "乌达区 民主社区 人民路188号",
        2,
        0.75,
        0.20,
        false,
        "08:30-18:00",
    ),
    (
        "xl-laowuda-noodles",
        "老乌达羊肉面馆",
        "乌达区 新达街道 新华街西段72号",
        1,
        0.25,
        0.40,
        false,
        "06:30-14:00, 17:00-21:00",
    ),
    (
        "xl-binhe-hotpot",
        "滨河涮羊肉馆",
        "乌达区 滨河社区 滨河路66号",
        4,
        0.75,
        0.70,
        false,
        "10:30-22:30",
    ),
    (
        "xl-xinda-bathhouse",
        "新达浴池",
        "乌达区 新达街道 新华街112号",
        1,
        0.70,
        0.30,
        false,
        "10:00-23:00",
    ),
    (
        "xl-shiguang-photo",
        "时光照相馆",
        "乌达区 团结社区 团结路8号(三完小对面)",
        3,
        0.30,
        0.80,
        false,
        "09:00-18:30",
    ),
    (
        "xl-guangming-grain",
        "光明粮油店",
        "乌达区 光明社区 光明菜市场内12号",
        5,
        0.65,
        0.30,
        false,
        "07:00-19:00",
    ),
];

/// An offer: (merchant index, title, points, stock, per-person limit).
type Offer = (usize, &'static str, i64, Option<i64>, Option<i64>);

/// The offers, 54 in all.
pub(super) const OFFERS: [Offer; 54] = [
    (0, "洗衣液 2kg 一桶", 80, Some(40), Some(2)),
    (0, "大米 5kg 一袋", 150, Some(30), Some(1)),
    (0, "鸡蛋 一板(30枚)", 60, Some(50), Some(2)),
    (0, "食用油 5L 一桶", 200, Some(20), Some(1)),
    (0, "手工挂面 一箱", 70, None, Some(2)),
    (1, "茶水一壶(下午场)", 20, None, Some(4)),
    (1, "砖茶 一块", 90, Some(25), Some(1)),
    (1, "奶茶两碗", 25, None, Some(4)),
    (1, "棋牌室 半天", 40, None, Some(2)),
    (2, "血压计测量 + 健康咨询", 10, None, None),
    (2, "口罩 一盒(50只)", 30, Some(100), Some(2)),
    (2, "医用酒精 + 碘伏 一套", 25, Some(60), Some(2)),
    (2, "家庭常备药箱", 180, Some(15), Some(1)),
    (3, "借书一月(免押金)", 15, None, Some(2)),
    (3, "儿童绘本 一册", 50, Some(30), Some(2)),
    (3, "复印打印 50页", 20, None, Some(4)),
    (3, "书法课 一节", 60, Some(20), Some(2)),
    (4, "男士理发 一次", 30, None, Some(4)),
    (4, "女士剪发 一次", 45, None, Some(4)),
    (4, "老人上门理发 一次", 40, Some(20), Some(2)),
    (4, "儿童理发 一次", 25, None, Some(4)),
    (4, "洗剪吹 一次", 60, None, Some(2)),
    (5, "普通洗车 一次", 35, None, Some(4)),
    (5, "精洗车 一次", 80, None, Some(2)),
    (5, "内饰清洁 一次", 120, Some(20), Some(1)),
    (5, "冬季玻璃水 一桶", 30, Some(50), Some(2)),
    (6, "免费保养检测 一次", 100, Some(30), Some(1)),
    (6, "机油更换工时费全免", 250, Some(15), Some(1)),
    (6, "购车代金券 500元", 2000, Some(10), Some(1)),
    (6, "四轮定位 一次", 150, Some(20), Some(1)),
    (6, "车辆年检代办 一次", 300, Some(10), Some(1)),
    (7, "羊肉面 一碗", 25, None, Some(4)),
    (7, "羊杂碎 一碗", 22, None, Some(4)),
    (7, "手抓肉 半斤", 90, Some(20), Some(1)),
    (7, "早点套餐(包子+豆浆)", 12, None, Some(4)),
    (8, "涮羊肉双人套餐", 260, Some(15), Some(1)),
    (8, "手切羊肉 一盘", 80, None, Some(2)),
    (8, "素菜拼盘 一份", 35, None, Some(2)),
    (8, "包间服务费全免", 50, None, Some(1)),
    (9, "淋浴 一次", 15, None, Some(4)),
    (9, "搓澡 一次", 30, None, Some(4)),
    (9, "汗蒸 一次", 50, None, Some(2)),
    (9, "足疗 一次", 90, Some(30), Some(1)),
    (10, "证件照 一版", 30, None, Some(2)),
    (10, "全家福 一张(含相框)", 200, Some(20), Some(1)),
    (10, "老照片修复 一张", 80, Some(30), Some(2)),
    (10, "志愿者风采照 一套", 60, None, Some(1)),
    (11, "面粉 5kg 一袋", 70, Some(40), Some(2)),
    (11, "小米 2.5kg 一袋", 45, Some(40), Some(2)),
    (11, "胡麻油 2.5L 一桶", 130, Some(25), Some(1)),
    (11, "杂粮礼盒", 160, Some(15), Some(1)),
    (11, "挂面 2kg 一袋", 30, None, Some(2)),
    (0, "纸巾 一提(10包)", 35, None, Some(2)),
    (9, "浴池月卡 九折券", 120, Some(10), Some(1)),
];

/// Volunteers based at a station: (id, name, merchant index of the station, travel).
pub(super) const VOLUNTEERS: [(&str, &str, usize, TravelMode); 5] = [
    ("wd-vol-01", "任秀英", 0, TravelMode::Foot),
    ("wd-vol-02", "白志刚", 0, TravelMode::Bike),
    ("wd-vol-03", "乔慧", 1, TravelMode::Foot),
    ("wd-vol-04", "苏日娜", 2, TravelMode::Foot),
    ("wd-vol-05", "郝建军", 3, TravelMode::Bike),
];

/// The merchant at `index`: its position and zone id.
pub(super) fn place(index: usize) -> (LatLon, &'static str) {
    let (_, _, _, g, u, v, _, _) = MERCHANTS[index];
    let (c, r, zone, _, _) = GRIDS[g];
    (at(c, r, u, v), zone)
}

/// The volunteers, based at their stations and starting there.
pub(super) fn volunteers() -> Vec<DemoResponder> {
    VOLUNTEERS
        .iter()
        .map(|&(id, name, station, travel)| {
            let (home, zone) = place(station);
            DemoResponder {
                id: id.to_string(),
                name: name.to_string(),
                kind: "volunteer".to_string(),
                travel,
                zone_id: zone.to_string(),
                skills: Vec::new(),
                home,
                tid: format!("v{}", &id[id.len() - 1..]),
                station_id: Some(MERCHANTS[station].0.to_string()),
            }
        })
        .collect()
}

/// The demo merchant whose login the demo prints at start (a station).
pub const DEMO_MERCHANT: &str = "xl-binhe-station";

/// Registers the merchants and their offers; those that exist are left alone. Returns
/// how many merchants were new.
pub(super) async fn load(api: &ApiClient) -> anyhow::Result<usize> {
    let mut new = 0;
    for (i, &(id, name, address, _, _, _, station, hours)) in MERCHANTS.iter().enumerate() {
        let (p, _) = place(i);
        let body = json!({
            "id": id, "name": name, "address": address, "lat": p.lat, "lon": p.lon,
            "station": station, "hours": hours,
        });
        let created = api
            .ensure_json("/api/v1/merchants", &body)
            .await
            .with_context(|| format!("registering merchant {id}"))?;
        if created == Created::New {
            new += 1;
        }
    }
    let mut n_of = [0usize; MERCHANTS.len()];
    for &(m, title, points, stock, limit) in &OFFERS {
        n_of[m] += 1;
        let merchant = MERCHANTS[m].0;
        let id = format!("{merchant}-{:02}", n_of[m]);
        let body = json!({
            "id": id, "title": title, "points": points, "stock": stock,
            "per_person_limit": limit,
        });
        api.ensure_json(&format!("/api/v1/merchants/{merchant}/offers"), &body)
            .await
            .with_context(|| format!("adding offer {id}"))?;
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, Point};

    #[test]
    fn a_dozen_merchants_inside_their_grids_with_fifty_odd_offers() {
        let county = super::super::county();
        assert_eq!(MERCHANTS.len(), 12);
        assert!(MERCHANTS.iter().filter(|m| m.6).count() >= 3);
        assert!(OFFERS.len() >= 50);
        for (i, m) in MERCHANTS.iter().enumerate() {
            let (p, zone) = place(i);
            let z = county.zone(zone).unwrap();
            assert!(
                z.polygon.contains(&Point::new(p.lon, p.lat)),
                "{} outside {zone}",
                m.0
            );
            assert!(OFFERS.iter().any(|o| o.0 == i), "{} has no offers", m.0);
        }
        for o in &OFFERS {
            assert!(crate::domain::merchants::points(o.2).is_ok(), "{}", o.1);
        }
        for v in &VOLUNTEERS {
            assert!(MERCHANTS[v.2].6, "{} is based at a non-station", v.0);
        }
    }
}

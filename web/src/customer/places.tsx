// The places the default tariff knows (activities/src/payment/default-fare-table.toml), offered
// as suggestions: the API takes the English names, the Korean name helps people pick.
export const PLACES: ReadonlyArray<{ name: string; korean: string }> = [
  { name: "Kangnam", korean: "강남" },
  { name: "Dongjak", korean: "동작" },
  { name: "Nowon", korean: "노원" },
  { name: "Mapo", korean: "마포" },
  { name: "Jongro", korean: "종로" },
  { name: "Bundang", korean: "분당" },
  { name: "Kangnam station", korean: "강남역" },
  { name: "Seoul station", korean: "서울역" },
  { name: "Gwanghwamun", korean: "광화문" },
  { name: "Itaewon", korean: "이태원" },
  { name: "Hongdae", korean: "홍대입구" },
  { name: "Yeouido", korean: "여의도" },
  { name: "Sadang", korean: "사당" },
  { name: "Jamsil", korean: "잠실" },
  { name: "Pangyo", korean: "판교" },
  { name: "Gimpo airport", korean: "김포공항" },
  { name: "Ilsan", korean: "일산" },
  { name: "Suwon", korean: "수원" },
  { name: "Incheon airport", korean: "인천공항" },
];

export const PLACES_LIST_ID = "known-places";

/** The `<datalist>` both place inputs point at. */
export function PlaceList() {
  return (
    <datalist id={PLACES_LIST_ID}>
      {PLACES.map((p) => (
        <option key={p.name} value={p.name} label={p.korean} />
      ))}
    </datalist>
  );
}

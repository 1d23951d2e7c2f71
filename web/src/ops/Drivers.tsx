// Registering and disabling drivers; the list of every driver.
import { useState } from "preact/hooks";
import { clock, Field, formatMobile } from "../shared/ui";
import { api, areaName, areaOf, AREAS, domId, type DriverRecord, type Ops } from "./api";

const EMPTY = { username: "", name: "", mobile: "", password: "", areas: "" };

/** "kangnam, 마포" as ["kangnam", "mapo"]. */
function readAreas(text: string): string[] {
  const words = text
    .split(/[,\s]+/)
    .map((w) => w.trim())
    .filter(Boolean)
    .map((w) => areaOf(w) ?? w.toLowerCase());
  return [...new Set(words)];
}

export function Drivers(props: { ops: Ops; drivers: DriverRecord[]; reload: () => Promise<void> }) {
  const { ops, drivers } = props;
  const [form, setForm] = useState(EMPTY);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [disabling, setDisabling] = useState<string | null>(null);
  const set = (key: keyof typeof EMPTY) => (value: string) => setForm((f) => ({ ...f, [key]: value }));

  async function register(e: Event) {
    e.preventDefault();
    if (busy) return;
    setNotice(null);
    setBusy(true);
    const r = await ops.run(
      api.POST("/drivers", {
        body: {
          username: form.username.trim(),
          name: form.name.trim(),
          mobile: form.mobile.replace(/[\s-]/g, ""),
          password: form.password,
          areas: readAreas(form.areas),
        },
      }),
    );
    setBusy(false);
    if (r.ok) {
      ops.report(null);
      setForm(EMPTY);
      setNotice("기사를 등록했습니다.");
      await props.reload();
    } else if (r.status === 409) {
      ops.report("이미 있는 아이디입니다.");
    } else {
      ops.fail(r);
    }
  }

  async function disable(driver: DriverRecord) {
    setNotice(null);
    setDisabling(driver.username);
    const r = await ops.run(
      api.POST("/drivers/{username}/disable", { params: { path: { username: driver.username } } }),
    );
    setDisabling(null);
    if (r.ok) {
      ops.report(null);
      setNotice(`${driver.name} 기사를 비활성화했습니다.`);
      await props.reload();
    } else {
      ops.fail(r, r.status === 404 ? "기사를 찾을 수 없습니다." : undefined);
    }
  }

  return (
    <section aria-labelledby="drivers-title">
      <h2 id="drivers-title">기사 관리</h2>
      <form data-testid="driver-form" onSubmit={register} noValidate aria-labelledby="driver-form-title">
        <h3 id="driver-form-title">기사 등록</h3>
        <Field label="아이디" testid="driver-username" value={form.username} onInput={set("username")} autoComplete="off" />
        <Field label="이름" testid="driver-name" value={form.name} onInput={set("name")} autoComplete="off" />
        <Field
          label="휴대폰 번호"
          testid="driver-mobile"
          type="tel"
          inputMode="tel"
          value={form.mobile}
          onInput={set("mobile")}
          placeholder="01012345678"
          autoComplete="off"
        />
        <Field
          label="비밀번호 (8자 이상)"
          testid="driver-password"
          type="password"
          value={form.password}
          onInput={set("password")}
          autoComplete="new-password"
        />
        <Field
          label="서비스 지역 (쉼표로 구분)"
          testid="driver-areas"
          value={form.areas}
          onInput={set("areas")}
          placeholder="kangnam, mapo"
          autoComplete="off"
        />
        <p class="muted">지역: {Object.entries(AREAS).map(([word, name]) => `${name} ${word}`).join(", ")}</p>
        <div class="actions">
          <button type="submit" data-testid="register-driver" disabled={busy}>
            {busy ? "등록하는 중…" : "기사 등록"}
          </button>
        </div>
      </form>
      {notice && (
        <p class="ok-notice" role="status" data-testid="driver-notice">
          {notice}
        </p>
      )}

      <h3>기사 목록 ({drivers.length}명)</h3>
      {drivers.length === 0 ? (
        <p class="muted">등록된 기사가 없습니다.</p>
      ) : (
        <ul class="plain driver-list" data-testid="driver-list">
          {drivers.map((d) => {
            const nameId = domId("driver", d.username);
            const disabled = d.disabledAt != null;
            return (
              <li
                key={d.username}
                data-testid="driver-item"
                data-username={d.username}
                data-disabled={disabled ? "true" : "false"}
                data-online={d.online ? "true" : "false"}
              >
                <div class="driver-head">
                  <strong id={nameId}>
                    {d.name} ({d.username})
                  </strong>
                  {disabled ? (
                    <span class="tag tag-off">비활성화됨</span>
                  ) : d.online ? (
                    <span class="tag tag-on">접속 중</span>
                  ) : (
                    <span class="tag">오프라인</span>
                  )}
                </div>
                <div class="muted">
                  {formatMobile(d.mobile)} · 지역 {d.areas.map(areaName).join(", ") || "없음"}
                  {disabled && d.disabledAt && ` · 비활성화 ${clock(d.disabledAt)}`}
                </div>
                {!disabled && (
                  <div class="actions">
                    <button
                      type="button"
                      class="secondary"
                      data-testid="disable-driver"
                      aria-describedby={nameId}
                      disabled={disabling === d.username}
                      onClick={() => void disable(d)}
                    >
                      비활성화
                    </button>
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

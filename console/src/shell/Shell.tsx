import {
  Button,
  DrawerBody,
  DrawerHeader,
  DrawerHeaderTitle,
  makeStyles,
  Menu,
  MenuItem,
  MenuList,
  MenuPopover,
  MenuTrigger,
  mergeClasses,
  OverlayDrawer,
  Spinner,
  Text,
  tokens,
} from '@fluentui/react-components';
import { Dismiss24Regular, Navigation24Regular, Person24Regular } from '@fluentui/react-icons';
import { Suspense, useState, type ReactNode } from 'react';
import { NavLink, useNavigate } from 'react-router';
import { useSession } from '../auth/session.tsx';
import type { ConsolePage } from './page.ts';

/** The frame around every page: a header, the navigation (a drawer below 768 px), the content. */

const NARROW = '@media (max-width: 767px)';

const useStyles = makeStyles({
  root: { minHeight: '100vh', display: 'grid', gridTemplateRows: 'auto 1fr' },
  header: {
    display: 'flex',
    alignItems: 'center',
    gap: tokens.spacingHorizontalM,
    padding: `${tokens.spacingVerticalS} ${tokens.spacingHorizontalL}`,
    backgroundColor: tokens.colorBrandBackground,
    color: tokens.colorNeutralForegroundOnBrand,
  },
  brand: { fontWeight: tokens.fontWeightSemibold, fontSize: tokens.fontSizeBase400, flexGrow: 1 },
  menuButton: { display: 'none', [NARROW]: { display: 'inline-flex' } },
  onBrand: { color: tokens.colorNeutralForegroundOnBrand },
  body: { display: 'grid', gridTemplateColumns: '220px 1fr', [NARROW]: { gridTemplateColumns: '1fr' } },
  side: {
    borderRight: `1px solid ${tokens.colorNeutralStroke2}`,
    backgroundColor: tokens.colorNeutralBackground2,
    [NARROW]: { display: 'none' },
  },
  nav: { display: 'flex', flexDirection: 'column', padding: tokens.spacingVerticalS, gap: '2px' },
  group: {
    padding: `${tokens.spacingVerticalM} ${tokens.spacingHorizontalM} ${tokens.spacingVerticalXS}`,
    color: tokens.colorNeutralForeground3,
  },
  link: {
    display: 'block',
    padding: `${tokens.spacingVerticalS} ${tokens.spacingHorizontalM}`,
    borderRadius: tokens.borderRadiusMedium,
    color: tokens.colorNeutralForeground1,
    textDecorationLine: 'none',
    ':hover': { backgroundColor: tokens.colorNeutralBackground1Hover },
    ':focus-visible': { outline: `2px solid ${tokens.colorStrokeFocus2}`, outlineOffset: '-2px' },
  },
  active: {
    backgroundColor: tokens.colorNeutralBackground1Selected,
    fontWeight: tokens.fontWeightSemibold,
    boxShadow: `inset 3px 0 0 ${tokens.colorBrandStroke1}`,
  },
  // Keyboard users jump past the navigation; visible only while focused.
  skip: {
    position: 'absolute',
    left: '-10000px',
    ':focus': {
      left: tokens.spacingHorizontalM,
      top: tokens.spacingVerticalM,
      zIndex: 1,
      padding: tokens.spacingHorizontalS,
      backgroundColor: tokens.colorNeutralBackground1,
      color: tokens.colorNeutralForeground1,
    },
  },
  main: { padding: tokens.spacingHorizontalXL, minWidth: 0, [NARROW]: { padding: tokens.spacingHorizontalM } },
});

function Navigation({ pages, onPick }: { pages: ConsolePage[]; onPick?: () => void }) {
  const styles = useStyles();
  const shown = pages.filter((p) => !p.hidden);
  const link = (p: ConsolePage) => (
    <NavLink
      key={p.path}
      to={`/${p.path}`}
      end
      onClick={onPick}
      className={({ isActive }) => mergeClasses(styles.link, isActive && styles.active)}
    >
      {p.title}
    </NavLink>
  );
  const settings = shown.filter((p) => p.group === 'Settings');
  return (
    <nav className={styles.nav} aria-label="Console">
      {shown.filter((p) => !p.group).map(link)}
      {settings.length > 0 && (
        <Text size={200} className={styles.group} aria-hidden>
          Settings
        </Text>
      )}
      {settings.map(link)}
    </nav>
  );
}

export function Shell({ pages, children }: { pages: ConsolePage[]; children: ReactNode }) {
  const styles = useStyles();
  const session = useSession();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const who = session.me?.displayName ?? session.me?.name ?? '';
  return (
    <div className={styles.root}>
      <a href="#main" className={styles.skip}>
        Skip to content
      </a>
      <header className={styles.header}>
        <Button
          className={mergeClasses(styles.menuButton, styles.onBrand)}
          appearance="transparent"
          icon={<Navigation24Regular />}
          aria-label="Open navigation"
          onClick={() => setOpen(true)}
        />
        <span className={styles.brand}>Ticketloop</span>
        <Menu>
          <MenuTrigger disableButtonEnhancement>
            <Button appearance="transparent" className={styles.onBrand} icon={<Person24Regular />}>
              {who}
            </Button>
          </MenuTrigger>
          <MenuPopover>
            <MenuList>
              <MenuItem onClick={() => navigate('/account')}>Your account</MenuItem>
              <MenuItem onClick={() => void session.signOut()}>Sign out</MenuItem>
            </MenuList>
          </MenuPopover>
        </Menu>
      </header>
      <OverlayDrawer open={open} onOpenChange={(_e, d) => setOpen(d.open)} position="start">
        <DrawerHeader>
          <DrawerHeaderTitle
            action={
              <Button
                appearance="subtle"
                aria-label="Close navigation"
                icon={<Dismiss24Regular />}
                onClick={() => setOpen(false)}
              />
            }
          >
            Ticketloop
          </DrawerHeaderTitle>
        </DrawerHeader>
        <DrawerBody>
          <Navigation pages={pages} onPick={() => setOpen(false)} />
        </DrawerBody>
      </OverlayDrawer>
      <div className={styles.body}>
        <aside className={styles.side}>
          <Navigation pages={pages} />
        </aside>
        <main className={styles.main} id="main" tabIndex={-1}>
          <Suspense fallback={<Spinner label="Loading page" />}>{children}</Suspense>
        </main>
      </div>
    </div>
  );
}
